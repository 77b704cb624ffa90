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
# read sets it was not retrained with (FRAUD_NOT_TRAINED: set 93, read in the twentieth
# session; retrained with it, the model blocked one more of the SMS Spam Collection's ham
# in nested cross-validation, 6 of 3,867, for one more fraud of held-out 94; set 95, read
# in the twenty-third: retrained with it the model blocked 14 fewer frauds of the unread
# sets and one more look-alike, and with 93 and 95 a bank's own fraud alert from its short
# code, a rule's example; set 101, read in the twenty-sixth: retrained with it the model
# blocked 9 more frauds of the unread sets and one look-alike fewer, but no longer doubted
# 'Your account has been suspended. Verify your card details at <link>' from a mobile
# number, a rule's example; sets 103 and 105, read in the twenty-seventh: the model was
# not retrained that session, so no shipped model has seen them; 107, 109 and 111 (the
# twenty-eighth), 113, 115, 117, 119 and 121 (the twenty-ninth) and 123, 125, 127 and 129
# (the thirtieth) and 131, 133, 135 and 137 (the thirty-first) likewise;
# docs/classifier.md)
FRAUD_UNREAD = holdout(44|47|49|51|53|55|57|59|61|63|65|67|69|70|72|74|76|78|80|82|84|86|88|90|92|94|96|98|100|102|104|106|108|110|112|114|116|118|120|122|124|126|128|130|132|134|136|138|140|142|144|146)(_ham)?\.tsv$$
FRAUD_NOT_TRAINED = holdout(9[35]|10[13579]|11[13579]|12[13579]|13[1357]|139|14[135])(_ham)?\.tsv$$
fraud-model:
	$(PY) -m gateway train --out gateway/content/models/sms_fraud.json.gz \
	  --sets $$(ls loadtest/data/smishing*.tsv | grep -v -E '$(FRAUD_UNREAD)|$(FRAUD_NOT_TRAINED)') \
	  --ham loadtest/data/busy_senders.tsv --data ../shared/data/sms-spam-collection/train.tsv
