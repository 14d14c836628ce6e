"""Recognise the book exercises a free-form homework answers, from what its code does,
and measure each answer.

Words in markdown are never evidence (a notebook may paste every prompt and answer two);
each recogniser looks at the code: its syntax tree, the literals it uses, what it
trains. An :class:`Attempt` is the cells that answer an exercise and the names to read
right after the last of them; :meth:`Recogniser.measure` turns what was read (and the
cells' outcomes, figures and trained models) into a :class:`Measured`: correct, wrong
or attempted (recognised, but nothing measurable was right or wrong), with a message
that says what was measured. Expected values are computed here, never in the kernel.

A recogniser may also name the errors its exercise is *about* (the broadcasting
``RuntimeError``, the ``AttributeError`` after removing ``save_hyperparameters``): a cell
of an attempt raising one of them is not a failure of the book code.

The base classes and the helpers every recogniser uses live in ``base``; the recognisers
themselves in one module per book chapter, plus ``errors_as_answers`` (errors that are the
answer), ``linalg`` (2.3), ``derivatives`` (gradients compared with formulas), ``columns``
(2.2's selection by name) and ``training`` (the last minibatch, a deeper MLP).
"""

from grader.homework.recognise.base import Attempt, Evidence, Measured, Recogniser, constant_value, static_shape
from grader.homework.recognise.chapter2 import AbaloneFractions, Broadcast3D, CompareOperators, SinDerivative
from grader.homework.recognise.chapter3 import InitRuns, OhmFit, PlanckFit, RemoveSaveHyperparameters
from grader.homework.recognise.chapter5 import ActivationComparison, Sweep
from grader.homework.recognise.columns import ColumnsByName
from grader.homework.recognise.derivatives import (ChainRuleDerivative, GradientShape, PReLUDerivative,
                                                   SwishDerivative)
from grader.homework.recognise.errors_as_answers import BackwardTwice, ControlFlowGrad, RowNormalise
from grader.homework.recognise.linalg import AxisSums, LenFirstAxis, NormManyAxes, TransposeIdentity
from grader.homework.recognise.training import DeeperMLP, LastBatch

__all__ = ["Attempt", "Measured", "Evidence", "Recogniser", "CompareOperators", "Broadcast3D", "AbaloneFractions",
           "SinDerivative", "RemoveSaveHyperparameters", "InitRuns", "OhmFit", "PlanckFit",
           "ActivationComparison", "Sweep", "static_shape", "constant_value", "RowNormalise", "ControlFlowGrad",
           "BackwardTwice", "TransposeIdentity", "LenFirstAxis", "AxisSums", "NormManyAxes", "ChainRuleDerivative",
           "PReLUDerivative", "SwishDerivative", "ColumnsByName", "LastBatch",
           "DeeperMLP", "GradientShape"]
