# Type stubs of the `couler` package: the original SDK's API (couler.argo, typed by its
# source) and the Pythonic API (couler.dsl, typed by dsl.pyi). See docs/python.md.
from couler.dsl import ArtifactRef as ArtifactRef
from couler.dsl import Condition as Condition
from couler.dsl import DEFAULT_IMAGE as DEFAULT_IMAGE
from couler.dsl import Input as Input
from couler.dsl import NotInWorkflowError as NotInWorkflowError
from couler.dsl import Output as Output
from couler.dsl import Param as Param
from couler.dsl import Ref as Ref
from couler.dsl import StepFunction as StepFunction
from couler.dsl import Task as Task
from couler.dsl import TunedTask as TunedTask
from couler import search as search
from couler._generate import GenerateError as GenerateError
from couler._generate import generate as generate
from couler.dsl import Workflow as Workflow
from couler.dsl import condition as condition
from couler.dsl import exit_handler as exit_handler
from couler.dsl import for_each as for_each
from couler.dsl import step as step
from couler.dsl import workflow as workflow

# After the Pythonic names: `couler.workflow` is couler.dsl's (it also stands for the current
# recording, as couler.argo's does).
from couler.argo import *  # type: ignore[assignment, has-type]
from couler.argo import _cleanup as _cleanup
