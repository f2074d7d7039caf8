"""The flite speech corpus, moved to ``rpc_datasets.speech`` (host-independent); re-exported here so that
``python -m rpc_fairseq.speech_data`` and ``from rpc_fairseq.speech_data import generate`` keep working.

>>> from rpc_fairseq.speech_data import generate  # doctest: +SKIP
"""

from rpc_datasets.speech import SAMPLE_RATE, VOICES, WORDS, add_noise, generate, main, synthesise

__all__ = ["SAMPLE_RATE", "VOICES", "WORDS", "add_noise", "generate", "main", "synthesise"]

if __name__ == "__main__":
    main()
