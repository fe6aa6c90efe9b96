#!/usr/bin/env python3
"""Writes the provider blocks of template.yaml from scripts/template-providers.json: for each provider its secret
parameter, its function (the binary named after it), log group, two alarms and webhook URL output, between the
`# BEGIN providers` / `# END providers` markers of each section. `--check` fails (CI) when the template is not
what the list gives.
    python3 scripts/gen-template.py          # rewrite template.yaml
    python3 scripts/gen-template.py --check  # CI"""
import json
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
providers = json.loads((root / "scripts/template-providers.json").read_text())["providers"]


def parameters(p):
    api = f"""  {p['resource']}ApiCredentialsParameter:
    Type: String
    Default: ""
    AllowedPattern: "^(/.+)?$"
    Description: >
      Name of the SSM SecureString parameter holding {p['api_credentials']}, for asking its API about eSIMs'
      usage (docs/reconcile.md). Empty: {p['id']} is not asked.
""" if p.get("api_credentials") else ""
    return api + f"""  {p['resource']}SecretsParameter:
    Type: String
    Default: /esimhooks/{p['id']}/secrets
    AllowedPattern: "^/.+"
    Description: >
      Name of the SSM SecureString parameter holding {p['secret']}, comma-separated (current first) so a
      secret can be rotated without dropping deliveries. Create it before deploying.
"""


def function(p):
    r, i = p["resource"], p["id"]
    env = "".join(f"          {k}: {v}\n" for k, v in p.get("environment", {}).items())
    secrets = [f'!Sub "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter${{{r}SecretsParameter}}"']
    secrets += p.get("secret_resources", [])
    secret_lines = "".join(f"                - {s}\n" for s in secrets)
    events = f"""        Post:
          Type: HttpApi
          Properties:
            ApiId: !Ref WebhookApi
            Method: POST
            Path: /webhooks/{i}
"""
    if p.get("token_path"):
        events += f"""        PostWithPathToken:
          Type: HttpApi
          Properties:
            ApiId: !Ref WebhookApi
            Method: POST
            Path: /webhooks/{i}/{{token}}
"""
    if p.get("head"):
        events += f"""        Head:
          Type: HttpApi
          Properties:
            ApiId: !Ref WebhookApi
            Method: HEAD
            Path: /webhooks/{i}
"""
    alarm = lambda name, metric, what, extra, threshold: f"""  {r}{name}Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: {what}
      Namespace: esimhooks
      MetricName: {metric}
      Dimensions:
        - {{Name: provider, Value: {i}}}
{extra}      Statistic: Sum
      Period: 300
      EvaluationPeriods: 1
      Threshold: {threshold}
      ComparisonOperator: GreaterThanOrEqualToThreshold
      TreatMissingData: notBreaching
      AlarmActions: [!Ref OpsTopic]

"""
    return f"""  {r}Function:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: {i}
    Properties:
      CodeUri: .
      Description: {p['description']}
      Environment:
        Variables:
          {i.upper()}_SECRETS_PARAM: !Ref {r}SecretsParameter
{env}      Policies:
        - !Ref WebhookPolicy
        - Statement:
            - Sid: ReadOwnSecrets
              Effect: Allow
              Action: ssm:GetParameter
              Resource:
{secret_lines}      Events:
{events}
  {r}LogGroup:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub "/aws/lambda/${{{r}Function}}"
      RetentionInDays: 30

""" + alarm("Failures", "Failed",
            f"{i} deliveries answered 5xx (our DynamoDB or SNS failed, or the function is misconfigured); the provider retries.",
            "", "1") + alarm("AuthFailures", "Rejected",
            f"Many {i} deliveries failed authentication (probing, or a secret rotated on one side only).",
            "        - {Name: reason, Value: unauthenticated}\n", "!Ref AuthFailureAlarmThreshold") + f"""  {r}SchemaDriftAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: >-
        A share of {i} deliveries over an hour were stored unrecognized or missing fields their type promises: the
        provider may have changed its payloads. Fix the mapping and replay them (docs/operations.md, schema drift).
      Metrics:
        - Id: drift
          ReturnData: false
          MetricStat:
            Metric: {{Namespace: esimhooks, MetricName: SchemaDrift, Dimensions: [{{Name: provider, Value: {i}}}]}}
            Period: 3600
            Stat: Sum
        - Id: stored
          ReturnData: false
          MetricStat:
            Metric: {{Namespace: esimhooks, MetricName: Stored, Dimensions: [{{Name: provider, Value: {i}}}]}}
            Period: 3600
            Stat: Sum
        - Id: share
          Label: percent of stored deliveries showing schema drift (at least 5 stored)
          Expression: IF(stored >= 5, 100 * drift / stored, 0)
          ReturnData: true
      EvaluationPeriods: 1
      Threshold: !Ref SchemaDriftAlarmPercent
      ComparisonOperator: GreaterThanOrEqualToThreshold
      TreatMissingData: notBreaching
      AlarmActions: [!Ref OpsTopic]

"""


def api_alarm(p):
    if not p.get("api_credentials"):
        return ""
    r, i = p["resource"], p["id"]
    return f"""  {r}AskFailuresAlarm:
    Type: AWS::CloudWatch::Alarm
    Condition: Asks{r}
    Properties:
      AlarmDescription: >-
        Asking the {i} API about eSIMs failed repeatedly (refused credentials, the API unavailable or limiting us,
        or answers it does not document); the reason dimension of AskFailed says which.
      Namespace: esimhooks
      MetricName: AskFailed
      Dimensions:
        - {{Name: provider, Value: {i}}}
      Statistic: Sum
      Period: 900
      EvaluationPeriods: 1
      Threshold: !Ref AskFailureAlarmThreshold
      ComparisonOperator: GreaterThanOrEqualToThreshold
      TreatMissingData: notBreaching
      AlarmActions: [!Ref OpsTopic]

"""


def condition(p):
    r = p["resource"]
    return f"""  Asks{r}: !Not [!Equals [!Ref {r}ApiCredentialsParameter, ""]]\n""" if p.get("api_credentials") else ""


def api_environment(p):
    r, i = p["resource"], p["id"]
    return f"""        {i.upper()}_API_CREDENTIALS_PARAM: !Ref {r}ApiCredentialsParameter\n""" if p.get("api_credentials") else ""


def api_parameter_arn(p):
    r = p["resource"]
    if not p.get("api_credentials"):
        return ""
    return f"""                - !Sub "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter${{{r}ApiCredentialsParameter}}"\n"""


def output(p):
    return f"""  {p['output']}:
    Description: {p['output_description']}
    Value: !Sub "https://${{WebhookApi}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/webhooks/{p['id']}{p.get('output_query', '')}"
"""


sections = {
    "parameters": parameters,
    "conditions": condition,
    "api environment": api_environment,
    "api parameters": api_parameter_arn,
    "resources": lambda p: function(p) + api_alarm(p),
    "outputs": output,
}
path = root / "template.yaml"
text = path.read_text()
generated = text
for section, block in sections.items():
    begin = f"# BEGIN providers {section}: generated by scripts/gen-template.py from scripts/template-providers.json\n"
    end = f"# END providers {section}\n"
    pattern = re.compile(r"(?m)^( *)" + re.escape(begin) + ".*?^ *" + re.escape(end), re.S)
    if not pattern.search(generated):
        sys.exit(f"gen-template: template.yaml has no {begin.strip()!r} ... {end.strip()!r} block")
    body = "".join(block(p) for p in providers).rstrip("\n") + "\n"
    generated = pattern.sub(lambda m: m.group(1) + begin + body + m.group(1) + end, generated)

if "--check" in sys.argv:
    if generated != text:
        sys.exit("gen-template: template.yaml is not what scripts/template-providers.json gives; run python3 scripts/gen-template.py")
    print(f"template: provider blocks of {len(providers)} providers are up to date")
else:
    path.write_text(generated)
    print(f"template: wrote the provider blocks of {len(providers)} providers")
