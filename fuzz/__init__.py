"""fuzz: campaigns over variants x corpus, ranking, regression replay, and the CLI."""
