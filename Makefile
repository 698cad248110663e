# Neural Network Mathematics — build and test.
#   make book    create .venv if missing, install pinned deps, build the site into _build/html
#   make test    the full test suite (unit tests, gradient checks, strict build, HTML + browser checks)
#   make serve   live preview while editing a chapter
#   make pdf     the whole book as one PDF through LaTeX (needs TeX Live: see the README)
#   make site    the PDF, then the site that offers it for download (what the Pages workflow publishes)
#   make clean   remove build outputs (keeps .venv)

PYTHON   ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
BUILD    ?= _build
JOBS     ?= auto
SPHINXOPTS ?=
# One BLAS thread per worker: chapters execute in parallel (-j), two cores must not fight.
export OPENBLAS_NUM_THREADS := 1
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: book test serve clean distclean chapter venv pdf site

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet pip==26.3

# Reinstall only when the pins or the package metadata change.
$(STAMP): $(BIN)/python pyproject.toml requirements/constraints.txt
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e ".[book,test]"
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/sphinx-build -c conf -W -n --keep-going -j $(JOBS) $(SPHINXOPTS) book $(BUILD)/html
	@echo ""
	@echo "The book is at file://$(CURDIR)/$(BUILD)/html/index.html"

PDF := $(BUILD)/pdf/neural-network-mathematics.pdf

# The LaTeX builder shares the execution cache with the HTML build (both live under $(BUILD)).
pdf: $(STAMP)
	$(BIN)/sphinx-build -b latex -c conf -W -n --keep-going -j $(JOBS) $(SPHINXOPTS) book $(BUILD)/latex
	cd $(BUILD)/latex && latexmk -pdfxe -interaction=nonstopmode -halt-on-error -file-line-error \
	  -quiet neural-network-mathematics.tex
	mkdir -p $(BUILD)/pdf
	cp $(BUILD)/latex/neural-network-mathematics.pdf $(PDF)
	@echo "The PDF is at $(CURDIR)/$(PDF)"

site: pdf
	NNBOOK_PDF=$(CURDIR)/$(PDF) $(MAKE) book

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Execute one chapter as a plain script, fast, without Sphinx: make chapter CH=book/chapters/01_backpropagation.md
chapter: $(STAMP)
	$(BIN)/python tools/run_chapter.py $(CH)

serve: $(STAMP)
	$(BIN)/sphinx-autobuild -c conf -n --keep-going book $(BUILD)/html \
	  --watch nnmath --watch conf --ignore "*/.jupyter_cache/*" --ignore "*/jupyter_execute/*"

clean:
	rm -rf $(BUILD)

distclean: clean
	rm -rf $(VENV)
