"""Write ``solutions/d2l-ch2-5.ipynb``, the reference homework, from the book's cells,
the answers of ``answers.py`` and a short discussion per section.

    python tests/homework/build_reference.py

It must score full marks under ``grade validate d2l-ch2-5`` (test_reference.py checks).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from answers import RIGHT, cells  # noqa: E402
from book import SECTIONS, homework_cells  # noqa: E402
from nbfactory import notebook, write  # noqa: E402

REFERENCE = HERE.parent.parent / "solutions" / "d2l-ch2-5.ipynb"

DISCUSSIONS = {
    "2.1": "Tensors share storage when reshaped, so writing into X also changed x: that is why torch.exp(x) "
           "shows e^12 eight times. Broadcasting copies along size-1 axes; in place updates keep the same id.",
    "2.2": "pandas reads the small csv, get_dummies turns the roof type into indicator columns (NaN included), and "
           "fillna replaces the missing room counts by their mean before everything becomes a float tensor.",
    "2.3": "Reductions can keep their axes (keepdims) so that a row sum broadcasts back over the rows. "
           "Norms measure size: the L2 norm of [3, -4] is 5, its L1 norm 7. 행렬-벡터 곱은 mv로 계산한다.",
    "2.5": "Autograd records the operations on tensors that require gradients and runs them backwards. Gradients "
           "accumulate until they are zeroed; detach cuts the graph; control flow is fine because only the run counts.",
    "3.1": "Vectorised code is orders of magnitude faster than a Python loop over elements. Minimising squared "
           "error is maximum likelihood under Gaussian noise, which the three density curves illustrate.",
    "3.2": "add_to_class lets the book add methods one cell at a time; save_hyperparameters turns the arguments of "
           "__init__ into attributes, which is why B without it has no attribute a.",
    "3.4": "The scratch model, the loss, SGD and the training loop fit the synthetic data within a few hundredths "
           "after three epochs. Zero initial weights are fine for linear regression; a large variance needs more steps.",
    "4.1": "Softmax turns scores into probabilities and cross-entropy compares them with one-hot labels; its "
           "gradient is the difference between the predicted probabilities and the labels.",
    "4.2": "Fashion-MNIST has 60,000 training and 10,000 test images of ten clothing classes; the data module "
           "resizes them, turns them into tensors and serves minibatches through a DataLoader.",
    "4.3": "The Classifier base class adds the validation accuracy to the loss plots and uses minibatch SGD; "
           "accuracy compares the argmax of the predictions with the labels.",
    "4.4": "Softmax regression from scratch: exponentiate, normalise by the row sums, and pick the log-probability "
           "of the right class for the cross-entropy. After training most errors are between similar garments.",
    "5.1": "Without a nonlinearity stacked linear layers collapse into one. ReLU's gradient is 0 or 1, sigmoid's "
           "and tanh's vanish for large inputs; 은닉층의 활성화 함수가 표현력을 만든다.",
    "5.2": "The MLP with 256 hidden units beats softmax regression; the concise version with LazyLinear does the "
           "same with less code. More hidden units helped a little in my sweep.",
    "5.3": "Forward propagation stores the intermediate values that backpropagation reuses, which is why training "
           "needs more memory than prediction; the gradient of each layer follows from the chain rule.",
}


def reference_cells() -> list:
    """All sections with the book's code, the answered exercises and a discussion each."""
    extra: dict[str, list] = {}
    for exercise in RIGHT:
        extra.setdefault(exercise.split("-")[0], []).extend(cells(RIGHT, exercise))
    return homework_cells(SECTIONS, extra=extra, discussions=DISCUSSIONS)


def main() -> None:
    write(notebook(reference_cells(), homework="d2l-ch2-5"), REFERENCE)
    print(f"wrote {REFERENCE}")


if __name__ == "__main__":
    main()
