"""What a device sends for a decision taken offline. Flask-WTF reads the JSON body a
device sends as form data; the CSRF token comes in the ``X-CSRFToken`` header (or as
``csrf_token``). Every rule is checked by the records' services."""
from __future__ import annotations

from wtforms import BooleanField, StringField, TextAreaField

from ..core.forms import RegistryForm


class DecisionForm(RegistryForm):
    action = StringField("操作")  # confirm / dispute
    version = StringField("记录版本")  # the version the record had when it was decided on
    reason = TextAreaField("异议理由")
    attest = BooleanField("我已核对以上金额、受益户数和人数及佐证材料，与本村实际情况一致")
