"""The text side: class descriptions, the papers' prompts, and text encoders.

* :mod:`~zssar.text.schema` — the description schema (:class:`ClassDescription`) and its field names;
* :mod:`~zssar.text.descriptions` — :class:`TextBank` and :func:`text_bank_for` (project text,
  label-only fallback, or a published source);
* :mod:`~zssar.text.importers` — readers of the published GAP, STAR, SMIE, SA-DVAE, PURLS and Neuron files;
* :mod:`~zssar.text.prompts`, :mod:`~zssar.text.llm`, :mod:`~zssar.text.describe` — the papers'
  questions and writing new description files with a language model;
* :mod:`~zssar.text.encoders`, :mod:`~zssar.text.towers` — MiniLM, CLIP and BERT encoders, the cache;
* :mod:`~zssar.text.deep_prompt` — towers run block by block with prompt tokens (SCoPLe, SkeletonContext);
* :mod:`~zssar.text.analysis` — similarity in text space.
"""
