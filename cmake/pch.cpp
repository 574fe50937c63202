// Empty: the translation unit that carries a precompiled header (CMakeLists.txt).
