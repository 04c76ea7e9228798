"""``set_dns``: refused, the IR has no DNS settings."""

from couler.core.errors import refuse


def set_dns(dns_policy, dns_config):
    refuse("DNS policy and config (`set_dns`)",
           "configure DNS in the cluster (a pod preset or the namespace's defaults)")
