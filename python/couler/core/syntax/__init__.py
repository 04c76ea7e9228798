"""The original SDK's control flow and workflow settings."""

from couler.core.syntax.concurrent import concurrent  # noqa: F401
from couler.core.syntax.conditional import when  # noqa: F401
from couler.core.syntax.dag import dag, set_dependencies  # noqa: F401
from couler.core.syntax.dns import set_dns  # noqa: F401
from couler.core.syntax.exit_handler import set_exit_handler  # noqa: F401
from couler.core.syntax.image_pull_secret import add_image_pull_secret  # noqa: F401
from couler.core.syntax.loop import map  # noqa: F401
from couler.core.syntax.predicates import *  # noqa: F401, F403
from couler.core.syntax.recursion import exec_while  # noqa: F401
from couler.core.syntax.toleration import add_toleration  # noqa: F401
from couler.core.syntax.volume import add_volume, create_workflow_volume  # noqa: F401
