from server.credentials import hash_secret, new_secret, verify


def test_a_secret_verifies_against_its_hash_only():
    secret = new_secret()
    stored = hash_secret(secret)
    assert secret not in stored
    assert verify(secret, stored)
    assert not verify(secret + "x", stored)
    assert not verify(secret, hash_secret(new_secret()))
    assert hash_secret(secret) != stored  # salted


def test_missing_or_malformed_hashes_never_verify():
    assert not verify("anything", None)
    assert not verify("anything", "plain")
    assert not verify("anything", "md5$1$salt$abc")
