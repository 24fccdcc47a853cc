"""Text without models: normalisation and terms, language detection, sentences and chunks,
follow-up questions. Imports nothing above `records`."""
