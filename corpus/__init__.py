"""corpus: device trees -> platform descriptions, the bundled corpus, the crash corpus."""
