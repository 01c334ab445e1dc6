"""The examples in the control-flow docstrings run and print what they say."""
import ast
import doctest

import pytest

import runtime as rt
from runtime import autograph, control_flow, debug_print


@pytest.mark.parametrize("module", [control_flow, autograph, debug_print], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    tests = finder.find(module, globs={"rt": rt, "ast": ast})    # user globals: builtin print
    assert sum(len(t.examples) for t in tests) >= 5
    for t in tests:
        runner.run(t)
    assert runner.failures == 0
