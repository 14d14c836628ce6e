"""Renderers of results: terminal, Gradescope JSON, JUnit XML, HTML.

Each consumes :class:`~grader.results.SubmissionResult` (or its dict) and nothing else.
"""
