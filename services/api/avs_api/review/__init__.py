"""Human review of entries: intake from ``review-requests``, the task store, decisions.

Two producers ask for a review on the ``review-requests`` queue:

- the ``enrichment-review`` state machine, whose ``sqs:sendMessage.waitForTaskToken``
  task sends ``{"task_token", "execution_arn", "request": {...}}`` and then waits: an
  approval answers with ``SendTaskSuccess`` (the execution publishes ``entry-approved``),
  a rejection with ``SendTaskFailure`` (the execution releases the lock);
- the sync service, with a plain ``review-request`` envelope about a live entry (changed
  status, missing episodes, merge, split): an approval publishes ``entry-approved``
  directly, a rejection only records the outcome.

Modules: :mod:`.model` (the task record), :mod:`.store` (``anime-review-tasks``),
:mod:`.intake` (the queue consumer), :mod:`.callbacks` (Step Functions task callbacks),
:mod:`.service` (listing, viewing, approving, rejecting, heartbeats), :mod:`.diff`;
the page: :mod:`.form_spec`, :mod:`.form` and :mod:`.form_render` (the editable entry
form, read from the schema), :mod:`.session` (sign-in sessions and CSRF tokens),
:mod:`.pages` and :mod:`.web` (templates, headers); :mod:`.wiring` composes them. The
routes are in :mod:`avs_api.routes.review`, the A2I alternative in
``infra/a2i/review-task.liquid``.
"""
