"""The evaluation suite behind `tinylm eval RUN... --report DIR`: story completion, novelty and
memorisation against the training set, grammar minimal pairs, an LLM judge, and the report.
See docs/evaluation.md for what each number measures."""
