"""Issue 14 point 10: documents above one block are read with the right codec.

On-chain a document is named by its bare sha2-256 digest. Old code guessed the codec by asking
the store whether it held the *raw* CID of that digest: both backends find blocks by multihash,
so for a document above one 256 KiB chunk the answer was "yes" and the reader got the dag-pb root
node's protobuf bytes instead of the document (verified on the embedded store and js-ipfs: the
bytes returned started with 0x12, not the document's magic). A lying node could flip the answer
for any document. Now the codec is derived from the verified block itself.
"""

from __future__ import annotations

import os

from medledger.client.documents import DocumentStore
from medledger.storage import CHUNK_SIZE, BlockStore
from medledger.storage.cid import DAG_PB, RAW


def test_a_multi_block_document_reads_back_whole(store: BlockStore) -> None:
    document = b"MLKR" + os.urandom(CHUNK_SIZE + 1000)  # a keyring of many epochs, say
    cid = store.put(document)
    assert cid.codec == DAG_PB
    assert DocumentStore(store).get(cid.digest) == document
    assert store.get_document(cid.digest) == document


def test_a_one_block_document_reads_back(store: BlockStore) -> None:
    for document in (b"\x02" + os.urandom(1216), b"MLKB" + os.urandom(100)):
        cid = store.put(document)
        assert cid.codec == RAW
        assert DocumentStore(store).get(cid.digest) == document
