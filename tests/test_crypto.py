"""Personal data at rest (``core.crypto``): values are written with AES-GCM under a
``v2:`` prefix; values written before (Fernet tokens) still read, and the blind index
of an ID number is what it always was, so stored rows keep being found and kept unique."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text

from registry.core import crypto
from registry.core.rules import RuleViolation
from registry.people import services
from registry.people.models import Person
from tests.factories import COUNTY, make_org, make_person

NUMBER = "430102199001011238"
PHONE = "13800000000"
# Written by the Fernet-only release under the tests' DATA_KEY ("test-data-key-not-for-production").
OLD_NUMBER = ("gAAAAABrEsRvSqtxFJEEsCbu90l6jP3TZvPk4soR0oB6oj_6cM-eQPCN1mb-JxxAuaKwCC4VPtrDruVbfazbT3Vx50"
              "FeKsMIWzkBmYru_kG62uqG0_m1Gzg=")
OLD_PHONE = ("gAAAAABrEsQyTSxvFhXFVZnMLpXObIk75eGHrYsFkHUFnvs_NKAEspU4Zz_4PYo1oxzjNT8DgI1JIThnxkE8h3V9d7O824"
             "QcCQ==")
OLD_INDEX = "3b5a090d766a33db431a2bc433820e8397bb671a0816005ab3a2f6d11b905282"


def test_values_round_trip_in_the_new_form(app):
    token = crypto.encrypt(NUMBER)
    assert token.startswith(crypto.PREFIX) and NUMBER not in token
    assert crypto.decrypt(token) == NUMBER
    assert crypto.encrypt(NUMBER) != token  # a fresh nonce each time
    assert crypto.decrypt(crypto.encrypt("张三 0731-88888888")) == "张三 0731-88888888"
    assert crypto.encrypt("") is None and crypto.encrypt(None) is None
    assert crypto.decrypt("") is None and crypto.decrypt(None) is None


def test_values_written_by_the_fernet_release_still_read(app):
    assert crypto.decrypt(OLD_NUMBER) == NUMBER
    assert crypto.decrypt(OLD_PHONE) == PHONE


def test_the_blind_index_is_unchanged(app):
    assert crypto.blind_index(NUMBER) == OLD_INDEX


@pytest.mark.parametrize("tamper", [
    lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1],  # ciphertext or tag altered
    lambda t: t[:10],  # truncated
    lambda t: t.removeprefix(crypto.PREFIX) if t.startswith(crypto.PREFIX) else crypto.PREFIX + t,  # other form
])
def test_an_altered_value_is_refused(app, tamper):
    for token in (crypto.encrypt(NUMBER), OLD_NUMBER):
        with pytest.raises(crypto.InvalidToken):
            crypto.decrypt(tamper(token))


def test_another_key_cannot_read_a_value(app):
    token = crypto.encrypt(NUMBER)
    other = app.extensions.pop("registry_crypto")
    app.config["DATA_KEY"], key = "another-key", app.config["DATA_KEY"]
    try:
        with pytest.raises(crypto.InvalidToken):
            crypto.decrypt(token)
    finally:
        app.config["DATA_KEY"] = key
        app.extensions["registry_crypto"] = other


def test_a_person_stored_by_the_fernet_release_reads_and_is_found(db, make_user):
    """A row as the previous release wrote it: read, found by its ID number, refused as a
    duplicate, and edited without its ID number being rewritten."""
    org = make_org("backing_unit", COUNTY)
    person = make_person(org, name="旧数据")
    db.session.execute(text("UPDATE person SET id_number_encrypted = :n, id_number_index = :i, phone_encrypted = :p "
                            "WHERE id = :id"), {"n": OLD_NUMBER, "i": OLD_INDEX, "p": OLD_PHONE, "id": person.id})
    db.session.commit()
    db.session.expire_all()
    person = db.session.get(Person, person.id)
    assert person.id_number == NUMBER and person.phone == PHONE
    user = make_user("region", region_code=COUNTY)
    assert db.session.scalars(services.people_query(user, q=NUMBER)).all() == [person]
    for known in (None, services.KnownPeople.load(user)):
        with pytest.raises(RuleViolation) as refused:
            services.clean_person({"name": "新人", "id_number": NUMBER, "organization_id": org.id}, actor=user, known=known)
        assert refused.value.errors["id_number"] == [services.DUPLICATE_ID]
    services.update_person(person, {"name": "改名", "id_number": NUMBER, "phone": PHONE, "organization_id": org.id},
                           version=person.version, actor=user)
    raw = db.session.execute(select(Person.id_number_encrypted, Person.phone_encrypted).where(Person.id == person.id)).one()
    assert tuple(raw) == (OLD_NUMBER, OLD_PHONE)  # unchanged values are not rewritten
    assert db.session.get(Person, person.id).name == "改名"
