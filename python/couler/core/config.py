"""Workflow-level settings: ``config_workflow`` and ``config_defaults``."""

from couler import _record
from couler.core import states
from couler.core._convert import seconds
from couler.core.errors import check_type, refuse
from couler.core.errors import keywords

_CONCURRENCY = {"allow": "allow", "forbid": "forbid", "replace": "replace"}


@keywords
def config_defaults(name_salter=None, service_account=None):
    if name_salter is not None:
        if not callable(name_salter):
            raise TypeError("argument `name_salter` must be callable")
        states._workflow_name_salter = name_salter
    if service_account is not None:
        check_type("service_account", service_account, str, "a str")
        states.default_service_account = service_account


@keywords
def config_workflow(name=None, user_id=None, timeout=None, time_to_clean=None,
                    cluster_config_file=None, cron_config=None, service_account=None):
    """Names the workflow and sets its deadline (``timeout``, seconds), schedule, TTL and
    service account."""
    rec = _record.current()
    if name is not None:
        check_type("name", name, str, "a str")
        rec.name = states._workflow_name_salter(name)
    if user_id is not None:
        rec.settings.setdefault("labels", {})["couler_job_user"] = str(user_id)
    if timeout is not None:
        rec.settings["timeout"] = seconds("timeout", timeout)
    if time_to_clean is not None:
        rec.settings["ttl"] = {"afterCompletion": seconds("time_to_clean", time_to_clean)}
    if cluster_config_file is not None:
        refuse("cluster config files (`cluster_config_file`)",
               "set node selectors, tolerations and resources on the steps")
    if cron_config is not None:
        rec.settings["schedule"] = _schedule(cron_config)
    account = service_account if service_account is not None else states.default_service_account
    if account is not None:
        check_type("service_account", account, str, "a str")
        rec.settings["serviceAccount"] = account


def _schedule(cron):
    check_type("cron_config", cron, dict, "a dict with `schedule`")
    if "schedule" not in cron:
        raise TypeError("argument `cron_config` needs `schedule` (a cron expression)")
    known = {"schedule", "concurrency_policy", "timezone", "starting_deadline_seconds",
             "successful_jobs_history_limit", "failed_jobs_history_limit", "suspend"}
    from couler.core.errors import unknown_keywords

    unknown_keywords("cron_config", cron, sorted(known))
    # The original's defaults, so a schedule fires when it did.
    schedule = {"cron": cron["schedule"], "timezone": cron.get("timezone", "Asia/Shanghai")}
    policy = cron.get("concurrency_policy", "Allow")
    value = _CONCURRENCY.get(str(policy).strip('"').lower())
    if value is None:
        raise TypeError("cron `concurrency_policy` must be Allow, Forbid or Replace")
    schedule["concurrencyPolicy"] = value
    deadline = cron.get("starting_deadline_seconds", 10)
    if deadline is not None:
        schedule["startingDeadline"] = deadline
    if str(cron.get("suspend", "false")).lower() not in ("false", "0"):
        refuse("a suspended cron schedule", "leave the schedule out until it should run")
    for key, default in (("successful_jobs_history_limit", 3), ("failed_jobs_history_limit", 1)):
        if cron.get(key, default) != default:
            refuse("cron `%s` other than the default %d" % (key, default),
                   "drop it; finished runs are kept by the workflow's TTL")
    return schedule
