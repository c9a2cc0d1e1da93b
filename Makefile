# Conflux developer entry points. `make run` and `make test` need nothing but python3.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint types contracts unit integration bench docs clean proto

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[node,dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m conflux_node.devrun

test: lint types contracts docs unit integration

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: $(STAMP)
	$(VENV)/bin/mypy node/conflux_node sdk/conflux

contracts: $(STAMP)
	$(VENV)/bin/lint-imports

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

integration: $(STAMP)
	$(PY) -m pytest -q tests/integration

bench: $(STAMP)
	$(PY) -m bench.run

docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir .venv/site

clean:
	rm -rf $(VENV) .conflux .mypy_cache .pytest_cache .ruff_cache site

# Regenerate the committed gRPC stubs after editing proto/ (a test checks they match).
proto: $(STAMP)
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) -m grpc_tools.protoc -Iproto --python_out=sdk \
		--grpc_python_out=sdk --mypy_out=sdk --mypy_grpc_out=sdk proto/conflux/v1/watch.proto
