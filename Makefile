PY ?= python3

.PHONY: install test lint demo bench fraud-model
install:
	$(PY) -m pip install -q -e '.[dev]'

test:
	$(PY) -m pytest -q tests

lint:
	$(PY) -m ruff check gateway tests loadtest plugins
	$(PY) -m mypy

demo:
	$(PY) -m gateway.demo

bench:
	$(PY) loadtest/bench_engine.py
	$(PY) loadtest/bench_lists.py

# the fraud model (docs/classifier.md, "The fraud model"): every fraud set of
# loadtest/data but the held-out sets kept unread to measure it (FRAUD_UNREAD)
FRAUD_UNREAD = holdout(44|47|49|51|53|55|57|59|61|63|65|67|69|70|72|74)(_ham)?\.tsv$$
# sets 66, 68, 71 and 73 are read (their misses wrote rules) but not in the model: retrained with
# 66, the band's edge (1% of negatives, in sample) rose from 1.78 to 1.95 and the rule examples'
# textbook phishing from a mobile left the band (docs/detection.md, fifteenth session)
FRAUD_NOT_YET = holdout(66|68|71|73)(_ham)?\.tsv$$
fraud-model:
	$(PY) -m gateway train --out gateway/content/models/sms_fraud.json.gz \
	  --sets $$(ls loadtest/data/smishing*.tsv | grep -v -E '$(FRAUD_UNREAD)|$(FRAUD_NOT_YET)') \
	  --ham loadtest/data/busy_senders.tsv --data ../shared/data/sms-spam-collection/train.tsv
