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
# loadtest/data but the held-out sets kept unread to measure it (FRAUD_UNREAD) and the
# read sets it was not retrained with (FRAUD_NOT_TRAINED), with the rules' legitimate
# examples as look-alikes (loadtest/rule_examples_ham.py writes them to
# loadtest/data/rule_examples_ham.tsv, kept as the model trained on it). Retrained in the
# thirty-second session with every read set up to 145 (93, 95 and 101-145 had been left
# out since the twentieth: with them alone the model blocked a bank's own short-code
# alert, a rule's example; with the examples as look-alikes it does not, and it blocked
# 155 more frauds of the unread sets for one look-alike fewer, docs/classifier.md).
# Retrained in the thirty-third session with every read set (147-161 added): 76 more
# frauds of the unread sets for 3 more look-alikes, the corpus's nested figure the same.
# No read set is left out now (FRAUD_NOT_TRAINED matches no file name).
FRAUD_UNREAD = holdout(44|47|49|51|53|55|57|59|61|63|65|67|69|70|72|74|76|78|80|82|84|86|88|90|92|94|96|98|100|102|104|106|108|110|112|114|116|118|120|122|124|126|128|130|132|134|136|138|140|142|144|146|148|150|152|154|156|158|160|162)(_ham)?\.tsv$$
FRAUD_NOT_TRAINED = ^$$
fraud-model:
	$(PY) loadtest/rule_examples_ham.py > loadtest/data/rule_examples_ham.tsv
	$(PY) -m gateway train --out gateway/content/models/sms_fraud.json.gz \
	  --sets $$(ls loadtest/data/smishing*.tsv | grep -v -E '$(FRAUD_UNREAD)|$(FRAUD_NOT_TRAINED)') \
	  --ham loadtest/data/busy_senders.tsv loadtest/data/rule_examples_ham.tsv \
	  --data ../shared/data/sms-spam-collection/train.tsv
