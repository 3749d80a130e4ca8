"""The pre-flight: everything a deploy will send is checked before its first write, and every problem reported.

Issue 22. One place for the rules `plan`, `deploy`, `register` and `run-task` apply to the requests they are
about to send (RegisterTaskDefinition, CreateService/UpdateService, CreateCluster): botocore's model at run
time (model.py), AWS's documented limits the model lacks (limits.py), ECS's own rules for a task definition
with its service (rules.py) and the references ECS resolves, found with read calls (references.py). Problems
are collected, not raised at the first: a PreflightError (exit 2) carries them all (problems.py). checks.py
applies the rules to each request as it will be sent, plan.py to what a deploy will send.

This package module imports nothing: its modules import each other directly, so none waits on another's import.
"""
