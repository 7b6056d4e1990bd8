# The README's commands. Each one sets up what it needs first (scripts/setup.sh, idempotent).
.PHONY: setup test demo lint clean

setup:
	bash scripts/setup.sh

test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh

lint: setup
	bash -c 'set +u; source env.sh && ruff check . && ruff format --check .'

clean:
	rm -rf build install log env.sh .venv
