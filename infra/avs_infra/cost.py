"""Alerts and cost governance: the alerts topic, the monthly budget with alerts at 50 % and
90 %, and a Cost Anomaly Detection monitor over the project's cost allocation tag.

The alerts topic is encrypted with a key of its own, because AWS Budgets, Cost Anomaly
Detection and CloudWatch alarms cannot publish to a topic under the AWS-managed SNS
key. The cost filters use the ``project`` tag: activate ``project`` (and
``environment``, ``service``) as cost allocation tags once per account.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from avs_infra.config import PROJECT, StackConfig

BUDGET_THRESHOLDS = (50, 90)
ALERT_PUBLISHERS = ("budgets.amazonaws.com", "costalerts.amazonaws.com", "cloudwatch.amazonaws.com")


@dataclass(frozen=True)
class Alerts:
    topic: aws.sns.Topic
    topic_policy: aws.sns.TopicPolicy


def build_alerts(cfg: StackConfig, account_id: pulumi.Input[str]) -> Alerts:
    key_policy = pulumi.Output.from_input(account_id).apply(
        lambda account: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AccountAdministers",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                        "Action": "kms:*",
                        "Resource": "*",
                    },
                    {
                        "Sid": "AlertPublishersEncrypt",
                        "Effect": "Allow",
                        "Principal": {"Service": list(ALERT_PUBLISHERS)},
                        "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                    },
                ],
            }
        )
    )
    key = aws.kms.Key(
        "alerts-key",
        description=f"avs {cfg.environment}: the alerts topic",
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=key_policy,
        tags={},
    )
    topic = aws.sns.Topic("alerts", name=f"avs-{cfg.environment}-alerts", kms_master_key_id=key.arn, tags={})
    policy = aws.sns.TopicPolicy(
        "alerts-policy",
        arn=topic.arn,
        policy=pulumi.Output.all(topic.arn, account_id).apply(
            lambda a: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AlertPublishers",
                            "Effect": "Allow",
                            "Principal": {"Service": list(ALERT_PUBLISHERS)},
                            "Action": "sns:Publish",
                            "Resource": a[0],
                            "Condition": {"StringEquals": {"aws:SourceAccount": a[1]}},
                        }
                    ],
                }
            )
        ),
    )
    for i, email in enumerate(cfg.budget_alert_emails):
        aws.sns.TopicSubscription(f"alerts-email-{i}", topic=topic.arn, protocol="email", endpoint=email)
    return Alerts(topic=topic, topic_policy=policy)


def build_cost_controls(
    cfg: StackConfig, alerts: Alerts
) -> tuple[aws.budgets.Budget, aws.costexplorer.AnomalyMonitor]:
    after_policy = pulumi.ResourceOptions(depends_on=[alerts.topic_policy])
    budget = aws.budgets.Budget(
        "budget",
        name=f"avs-{cfg.environment}-monthly",
        budget_type="COST",
        time_unit="MONTHLY",
        limit_amount=f"{cfg.budget_monthly_usd:.2f}",
        limit_unit="USD",
        cost_filters=[
            aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=[f"user:project${PROJECT}"])
        ],
        notifications=[
            aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN",
                threshold=threshold,
                threshold_type="PERCENTAGE",
                notification_type="ACTUAL",
                subscriber_sns_topic_arns=[alerts.topic.arn],
                subscriber_email_addresses=list(cfg.budget_alert_emails) or None,
            )
            for threshold in BUDGET_THRESHOLDS
        ],
        tags={},
        opts=after_policy,
    )
    monitor = aws.costexplorer.AnomalyMonitor(
        "cost-anomaly-monitor",
        name=f"avs-{cfg.environment}",
        monitor_type="CUSTOM",
        monitor_specification=json.dumps(
            {"Tags": {"Key": "project", "Values": [PROJECT], "MatchOptions": ["EQUALS"]}}
        ),
        tags={},
    )
    aws.costexplorer.AnomalySubscription(
        "cost-anomaly-alerts",
        name=f"avs-{cfg.environment}-anomalies",
        frequency="IMMEDIATE",  # the only frequency SNS subscribers take
        monitor_arn_lists=[monitor.arn],
        subscribers=[
            aws.costexplorer.AnomalySubscriptionSubscriberArgs(type="SNS", address=alerts.topic.arn)
        ],
        threshold_expression=aws.costexplorer.AnomalySubscriptionThresholdExpressionArgs(
            dimension=aws.costexplorer.AnomalySubscriptionThresholdExpressionDimensionArgs(
                key="ANOMALY_TOTAL_IMPACT_ABSOLUTE",
                match_options=["GREATER_THAN_OR_EQUAL"],
                values=[f"{cfg.anomaly_threshold_usd:g}"],
            )
        ),
        tags={},
        opts=after_policy,
    )
    return budget, monitor
