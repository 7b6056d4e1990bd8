# The README's commands. Each one sets up what it needs first (scripts/setup.sh, idempotent).
.PHONY: setup test demo lint clean

setup:
	bash scripts/setup.sh

test:
	bash scripts/in_env.sh bash scripts/test.sh

demo:
	bash scripts/in_env.sh occrobnet demo

lint:
	bash scripts/in_env.sh bash -c 'ruff check . && ruff format --check .'

clean:
	rm -rf build install log env.sh .venv
