# The two commands: `make run` and `make test`. Both install what is missing first.
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: all deps web build run test test-unit test-browser format clean

all: build

deps:
	@bash scripts/install-deps.sh

# The console is built first: its files are embedded into the binary.
web: deps
	@cd web && npm run --silent build >/dev/null

build: web
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null
	@ninja -C $(BUILD) -j $(JOBS) --quiet

# Starts the server on embedded SQLite under ./var with a demo merchant.
run: build
	./$(BUILD)/regulars serve --demo --data var --listen $${LISTEN:-127.0.0.1:8080}

# Unit and HTTP tests on SQLite and on a throwaway PostgreSQL, then the browser tests.
test: build
	@bash scripts/run-tests.sh $(BUILD)

test-unit: build
	@bash scripts/with-postgres.sh ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-browser: build
	@cd web && REGULARS_BIN=$(CURDIR)/$(BUILD)/regulars npm run --silent test:e2e

format:
	@find src tests tools bench -name '*.cpp' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
