"""Shared kernel: small helpers several domains use, below every domain.

Nothing here imports another ``kindred`` package (only the standard library, third-party
libraries and other ``kindred.common`` modules), so any domain may import it without
running back up the layers: ``failures`` (``ActionFailed``), ``durations``
(``parse_duration``), ``jsonvalues`` (``plain_json``), ``mail`` (SMTP ``send_email``) and
``http`` (reading answers from other systems).
"""
