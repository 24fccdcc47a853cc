"""Answering from retrieved passages: evidence, the answerability gate, the extractive and
generative answerers, citation verification and close calls."""
