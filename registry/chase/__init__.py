"""Chase-up (催办) and escalation (督办升级) of overdue records, missing duty months and unverified results."""
