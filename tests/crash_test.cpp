#include <gtest/gtest.h>
TEST(Crash, Placeholder) {}
