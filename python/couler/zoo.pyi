# Type stubs of couler.zoo (docs/zoo.md). Generated from zoo/*.yaml by
# `COULER_BLESS=1 cargo test -p couler-ir --lib zoo`; do not edit.
from typing import Any, Dict, List, Optional, Union

from couler.dsl import ArtifactRef, Ref, Task

def entries() -> List[Dict[str, Any]]: ...
def use(entry: str, name: Optional[str] = None, version: Optional[int] = None, **arguments: Any) -> Task: ...

def container(*, name: Optional[str] = None, version: Optional[int] = None, image: Union[str, Ref], command: Any) -> Task:
    """Run a command in a container image; add the step's own inputs, outputs and env beside `with`. (`zoo/container@1`)"""

def evaluate(*, name: Optional[str] = None, version: Optional[int] = None, model: ArtifactRef, test: ArtifactRef, label: Union[str, Ref] = ..., metric: Union[str, Ref] = ...) -> Task:
    """Score a pickled scikit-learn classifier on a test set (accuracy, ROC AUC, F1) and output the chosen metric. (`zoo/evaluate@1`)"""

def publish(*, name: Optional[str] = None, version: Optional[int] = None, model: ArtifactRef, destination: Union[str, Ref], filename: Union[str, Ref] = ...) -> Task:
    """Copy a model into a destination directory with its SHA-256 and the run that made it. (`zoo/publish@1`)"""

def read_csv(*, name: Optional[str] = None, version: Optional[int] = None, file: ArtifactRef, columns: Any = ..., delimiter: Union[str, Ref] = ...) -> Task:
    """Read a CSV file, keep the columns asked for and drop rows with missing values. (`zoo/read-csv@1`)"""

def read_sql_table(*, name: Optional[str] = None, version: Optional[int] = None, database: Union[str, Ref], table: Union[str, Ref], limit: Union[int, Ref] = ...) -> Task:
    """Read a table of a SQLite database into a CSV file (Python's sqlite3, no server). (`zoo/read-sql-table@1`)"""

def script(*, name: Optional[str] = None, version: Optional[int] = None, source: Union[str, Ref], image: Union[str, Ref] = ...) -> Task:
    """Run an inline Python script; add the step's own inputs, outputs and env beside `with`. (`zoo/script@1`)"""

def select_best(*, name: Optional[str] = None, version: Optional[int] = None, models: List[ArtifactRef], scores: Any, names: Any = ..., lower_is_better: Union[bool, Ref] = ...) -> Task:
    """Pick the best of N models by a score (ties go to the first listed) and pass it on. (`zoo/select-best@1`)"""

def split(*, name: Optional[str] = None, version: Optional[int] = None, data: ArtifactRef, label: Union[str, Ref] = ..., test_fraction: Union[float, Ref] = ..., seed: Union[int, Ref] = ...) -> Task:
    """Shuffle a CSV file and split it into a training and a test set (stratified by the label). (`zoo/split@1`)"""

def train_gradient_boosting(*, name: Optional[str] = None, version: Optional[int] = None, train: ArtifactRef, label: Union[str, Ref] = ..., n_estimators: Union[int, Ref] = ..., learning_rate: Union[float, Ref] = ..., max_depth: Union[int, Ref] = ..., seed: Union[int, Ref] = ...) -> Task:
    """Train a scikit-learn gradient boosting classifier on a CSV training set. (`zoo/train-gradient-boosting@1`)"""

def train_logistic_regression(*, name: Optional[str] = None, version: Optional[int] = None, train: ArtifactRef, label: Union[str, Ref] = ..., c: Union[float, Ref] = ..., max_iter: Union[int, Ref] = ...) -> Task:
    """Train a scikit-learn logistic regression (standardised features) on a CSV training set. (`zoo/train-logistic-regression@1`)"""

def train_random_forest(*, name: Optional[str] = None, version: Optional[int] = None, train: ArtifactRef, label: Union[str, Ref] = ..., n_estimators: Union[int, Ref] = ..., max_depth: Union[int, Ref] = ..., seed: Union[int, Ref] = ...) -> Task:
    """Train a scikit-learn random forest classifier on a CSV training set. (`zoo/train-random-forest@1`)"""
