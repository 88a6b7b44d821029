"""Scenario packs: files, routing, the batch runner, checks, reports and run history."""
