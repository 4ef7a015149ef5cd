# zssar: `make book` builds the book from a fresh clone; `make test` runs the tests and nbval.
# Parameters of every notebook come from here and can be overridden: make book DATASET=synthetic SEED=1
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATASET ?= synthetic
SPLIT ?= random:5:0
SEED ?= 0
# A description file of your own for the method chapters (empty: the project's text), e.g. from zssar describe.
DESCRIPTIONS ?=
export ZSSAR_CACHE ?= $(CURDIR)/.cache/zssar
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
EXECUTED := $(patsubst notebooks/%.ipynb,book/notebooks/%.ipynb,$(NOTEBOOKS))
PACKAGE := $(shell find zssar -name '*.py' 2>/dev/null)
# A stamp per parameter set: changing a parameter re-executes the notebooks, nothing else does.
PARAMS_ID := $(shell printf '%s|%s|%s|%s' '$(DATASET)' '$(SPLIT)' '$(SEED)' '$(DESCRIPTIONS)' | sha1sum | cut -c1-12)
PARAMS_STAMP := book/notebooks/.params-$(PARAMS_ID)

# The results sweep the method chapters summarise (results/*.jsonl): 3 seeds x 5 seeded random splits
# on KARD (5 unseen classes, cross-subject) and NW-UCLA (3 unseen, cross-view) plus the PURLS NW-UCLA
# splits. Needs the datasets ($$ZSSAR_DATA); resumable: an interrupted sweep goes on where it stopped.
SWEEP_METHODS ?= global purls dynapurls star skeletoncontext scople
# Methods being swept, whose records may cover part of the grid (chapter 12's coverage table says how
# much): `make sweep SWEEP_METHODS="cada_vae synse smie sadvae"` goes on with them; a method moves up to
# SWEEP_METHODS when its grid is complete. Their records are in results/ with the others, but for
# SynSE's NW-UCLA runs, made before text was encoded one string at a time: results/pending/ (README).
SWEEP_PENDING ?= cada_vae synse smie sadvae
SWEEP_SEEDS ?= 0 1 2
JOBS ?= 2
ZSSAR_RUN = $(BIN)/python -m zssar run --method $(SWEEP_METHODS) --seed $(SWEEP_SEEDS) --resume --quiet --jobs $(JOBS)

.PHONY: help venv notebooks book test lab clean sweep benchmark leak-study gap-study text-study ntu60 ntu120 pku-mmd
help:
	@echo "make book   execute every notebook with papermill and build the HTML book (_build/html)"
	@echo "make test   pytest on tests/ and nbval on the executed notebooks"
	@echo "make lab    JupyterLab on notebooks/"
	@echo "make sweep  the seeds x splits results on KARD and NW-UCLA (needs ZSSAR_DATA) into results/"
	@echo "make benchmark  the benchmark tables (CSV, Markdown) and figures (PNG) from results/ into results/benchmark/"
	@echo "make leak-study  H with gamma/delta chosen on the test set beside seen-val, KARD seed 0 (needs ZSSAR_DATA)"
	@echo "make gap-study  GAP supervised/zero-shot/ablation rows on KARD and NW-UCLA into results/gap_study/"
	@echo "make ntu60 / ntu120 / pku-mmd  the papers' splits on your own files (NTU_ROOT=...; GPU advised) into results/ntu/"
	@echo "make clean  remove build products (keeps .venv and the cache)"
	@echo "parameters: DATASET=$(DATASET) SPLIT=$(SPLIT) SEED=$(SEED)"

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

$(PARAMS_STAMP):
	@mkdir -p book/notebooks
	@rm -f book/notebooks/.params-*
	@printf 'DATASET=%s SPLIT=%s SEED=%s\n' '$(DATASET)' '$(SPLIT)' '$(SEED)' > $@

book/notebooks/%.ipynb: notebooks/%.ipynb $(PACKAGE) $(PARAMS_STAMP) $(VENV)/.installed
	$(BIN)/papermill --cwd notebooks --kernel python3 --log-output $< $(@D)/.tmp-$(@F) \
	    -p dataset '$(DATASET)' -p split '$(SPLIT)' -p seed $(SEED) \
	    $(if $(DESCRIPTIONS),-p descriptions '$(abspath $(DESCRIPTIONS))')
	@$(BIN)/python scripts/finish_notebook.py $(@D)/.tmp-$(@F)
	@mv $(@D)/.tmp-$(@F) $@

# Chapters run BOOK_JOBS at a time (each output kept together); two that need one backbone train it
# once (the second waits for the first's cache entry, see zssar/backbones/pretrain.py). One by default:
# two chapters on two cores, each with torch's two threads, ran 3 to 5 times slower than alone here
# (chapter 04: 615 s against 112 s), so BOOK_JOBS=2 pays only with more cores than 2 x torch threads.
BOOK_JOBS ?= 1
notebooks: $(VENV)/.installed $(PARAMS_STAMP)
	@$(MAKE) --no-print-directory -j$(BOOK_JOBS) --output-sync=target $(EXECUTED)

book/_static/mathjax/tex-svg.js:
	bash scripts/fetch_mathjax.sh

book: notebooks book/_static/mathjax/tex-svg.js
	$(BIN)/jupyter-book build . --path-output . -W -n --keep-going
	$(BIN)/python scripts/check_offline_html.py _build/html
	@echo "The book: $(CURDIR)/_build/html/index.html"

test: notebooks
	$(BIN)/python -m pytest -q tests $(EXECUTED) --nbval-lax --nbval-current-env -p no:cacheprovider

sweep: $(VENV)/.installed
	@test -d "$$ZSSAR_DATA/kard" -a -d "$$ZSSAR_DATA/nw-ucla" || { echo "make sweep reads KARD and \
	NW-UCLA: set ZSSAR_DATA to the folder that holds kard/ and nw-ucla/"; exit 2; }
	@mkdir -p results
	$(ZSSAR_RUN) --dataset kard --setting cross_subject --results results/kard.jsonl \
	    --split random:5:0 random:5:1 random:5:2 random:5:3 random:5:4
	$(ZSSAR_RUN) --dataset nw-ucla --setting cross_view --results results/nw-ucla.jsonl \
	    --split random:3:0 random:3:1 random:3:2 random:3:3 random:3:4 purls:5/5 purls:8/2

# Class text for a dataset with names only: the global baseline with the dataset's own descriptions, with
# descriptions borrowed from the project's other datasets (never its own) and with label text, on the
# same splits and seeds; then borrowed text with the label's weight in each class vector chosen on
# seen_val from LABEL_WEIGHTS; chapter 03 reads results/text_study/.
LABEL_WEIGHTS ?= [0,0.25,0.5,0.75,1]
TEXT_RUN = $(BIN)/python -m zssar run --method global --seed $(SWEEP_SEEDS) --resume --quiet --jobs $(JOBS)
text-study: $(VENV)/.installed
	@test -d "$$ZSSAR_DATA/kard" -a -d "$$ZSSAR_DATA/utkinect" -a -d "$$ZSSAR_DATA/nw-ucla" || { echo "make \
	text-study reads KARD, UTKinect and NW-UCLA: set ZSSAR_DATA to the folder that holds them"; exit 2; }
	@mkdir -p results/text_study
	for text in project borrowed label; do \
	  $(TEXT_RUN) --text $$text --dataset kard --setting cross_subject --results results/text_study/kard.jsonl \
	    --split random:5:0 random:5:1 random:5:2 random:5:3 random:5:4 || exit 1; \
	  $(TEXT_RUN) --text $$text --dataset utkinect --setting cross_subject --results results/text_study/utkinect.jsonl \
	    --split random:3:0 random:3:1 random:3:2 random:3:3 random:3:4 || exit 1; \
	  $(TEXT_RUN) --text $$text --dataset nw-ucla --setting cross_view --results results/text_study/nw-ucla.jsonl \
	    --split random:3:0 random:3:1 random:3:2 random:3:3 random:3:4 || exit 1; \
	done
	for args in "kard --setting cross_subject --split random:5:0 random:5:1 random:5:2 random:5:3 random:5:4" \
	    "utkinect --setting cross_subject --split random:3:0 random:3:1 random:3:2 random:3:3 random:3:4" \
	    "nw-ucla --setting cross_view --split random:3:0 random:3:1 random:3:2 random:3:3 random:3:4"; do \
	  $(TEXT_RUN) --text borrowed --set 'label_weights=$(LABEL_WEIGHTS)' --dataset $$args \
	    --results results/text_study/$${args%% *}.jsonl || exit 1; \
	done

# NTU RGB+D 60 / 120 and PKU-MMD: the published splits (SynSE's, STAR's PKU-MMD I) with the papers'
# Shift-GCN (10 blocks, 64 frames, SGD, 65 epochs) trained on the seen classes, from the files you
# downloaded (NTU_ROOT holds ntu60/, ntu120/ or pku-mmd/; NTU needs ZSSAR_NTU_METADATA or
# ntu-metadata/ beside them). Resumable; chapter 13 shows the records beside the papers' numbers.
NTU_ROOT ?= $(ZSSAR_DATA)
NTU_METHODS ?= $(SWEEP_METHODS)
NTU_SEEDS ?= 0 1 2
NTU_RESULTS ?= results/ntu
NTU_RUN = $(BIN)/python -m zssar run --root "$(NTU_ROOT)" --paper --backbone shiftgcn --method $(NTU_METHODS) \
    --seed $(NTU_SEEDS) --resume --setting cross_subject $(NTU_FLAGS)
ntu60 ntu120 pku-mmd: $(VENV)/.installed
	@test -n "$(NTU_ROOT)" -a -d "$(NTU_ROOT)/$@" || { echo "make $@ reads $(NTU_ROOT)/$@: pass NTU_ROOT=DIR, \
	the folder that holds $@/ (see README, NTU RGB+D and PKU-MMD)"; exit 2; }
	@mkdir -p $(NTU_RESULTS)
	$(NTU_RUN) --dataset $@ --results $(NTU_RESULTS)/$@.jsonl --split $(or $(NTU_SPLITS),$(NTU_SPLITS_$@))
NTU_SPLITS_ntu60 := synse:55/5 synse:48/12
NTU_SPLITS_ntu120 := synse:110/10 synse:96/24
NTU_SPLITS_pku-mmd := star:46/5 star:39/12

# The benchmark's tables and figures from the sweep's records (reads results/, trains nothing).
benchmark: $(VENV)/.installed
	$(BIN)/python -m zssar.benchmark --results results --out results/benchmark

# What choosing gamma and delta on the test set would add (chapter 12), one seed of the KARD splits.
leak-study: $(VENV)/.installed
	@test -d "$$ZSSAR_DATA/kard" || { echo "make leak-study reads KARD: set ZSSAR_DATA to the folder that holds kard/"; exit 2; }
	$(BIN)/python scripts/leak_study.py --dataset kard --setting cross_subject --methods $(SWEEP_METHODS) --seeds 0 \
	    --splits random:5:seed=0 random:5:seed=1 random:5:seed=2 random:5:seed=3 random:5:seed=4 \
	    --out results/leak_study/kard.jsonl

# GAP's supervised and zero-shot results over 3 seeds (chapter 05), resumable like the sweep.
GAP_STUDY = $(BIN)/python scripts/gap_study.py --seeds $(SWEEP_SEEDS) --epochs 60 --batch-size 16 --quiet
gap-study: $(VENV)/.installed
	@test -d "$$ZSSAR_DATA/kard" -a -d "$$ZSSAR_DATA/nw-ucla" || { echo "make gap-study reads KARD and \
	NW-UCLA: set ZSSAR_DATA to the folder that holds kard/ and nw-ucla/"; exit 2; }
	$(GAP_STUDY) --dataset kard --ablation --out results/gap_study/kard.jsonl \
	    --splits random:5:seed=0 random:5:seed=1 random:5:seed=2
	$(GAP_STUDY) --dataset kard --skip-supervised --calibration held_out --out results/gap_study/kard.jsonl \
	    --splits random:5:seed=0 random:5:seed=1 random:5:seed=2
	$(GAP_STUDY) --dataset nw-ucla --out results/gap_study/nw-ucla.jsonl \
	    --splits random:3:seed=0 random:3:seed=1
	$(GAP_STUDY) --dataset nw-ucla --skip-supervised --calibration held_out --out results/gap_study/nw-ucla.jsonl \
	    --splits random:3:seed=0

lab: $(VENV)/.installed
	$(BIN)/jupyter lab notebooks

clean:
	rm -rf _build book/notebooks .pytest_cache
