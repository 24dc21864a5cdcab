// SPDX-License-Identifier: Apache-2.0
// Test-only contract for tests/chain (errors, events, nonces on every backend). Rebuild Probe.json:
//   python tests/chain/data/build_probe.py
pragma solidity 0.8.28;
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {Ownable2Step, Ownable} from "@openzeppelin/contracts/access/Ownable2Step.sol";

contract Probe is EIP712, Nonces, Ownable2Step {
    struct Item { uint64 id; address author; bytes32 digest; bool flag; }
    struct GrantRequest { address grantee; uint16 categories; uint8 actions; uint16 purposes; uint32 validFrom; uint32 validUntil; bytes32 keyBundle; }
    error PatientNotRegistered(uint64 patientId);
    error NotController(address caller);
    error InvalidSignature();
    error DeadlineExpired(uint256 deadline, uint256 nowTs);
    error Boom(string why, uint256 code);
    event Stored(uint64 indexed id, address indexed author, bytes32 digest, uint256 counter);
    event Granted(uint64 indexed patientId, address indexed grantee, uint16 categories);
    bytes32 private constant GRANT_TYPEHASH = keccak256("Grant(uint64 patientId,address grantee,uint16 categories,uint8 actions,uint16 purposes,uint32 validFrom,uint32 validUntil,bytes32 keyBundle,uint256 nonce,uint256 deadline)");
    mapping(uint64 => Item) private items;
    uint256 public counter;
    constructor(address initialOwner) EIP712("MedLedger", "1") Ownable(initialOwner) {}
    function store(uint64 id, bytes32 digest) external returns (uint256) {
        if (id == 0) revert PatientNotRegistered(id);
        items[id] = Item(id, msg.sender, digest, true);
        counter += 1;
        emit Stored(id, msg.sender, digest, counter);
        return counter;
    }
    function onlyOwnerThing() external view onlyOwner returns (bool) { return true; }
    function failController() external view { revert NotController(msg.sender); }
    function failString() external pure { revert("plain reason"); }
    function failBoom() external pure { revert Boom("x", 7); }
    function failPanic(uint256 a) external pure returns (uint256) { return 10 / a; }
    function getItem(uint64 id) external view returns (Item memory) { return items[id]; }
    function grantBySig(uint64 patientId, address signer, GrantRequest calldata g, uint256 deadline, bytes calldata signature) external {
        if (block.timestamp > deadline) revert DeadlineExpired(deadline, block.timestamp);
        bytes32 structHash = keccak256(abi.encode(GRANT_TYPEHASH, patientId, g.grantee, g.categories, g.actions, g.purposes, g.validFrom, g.validUntil, g.keyBundle, _useNonce(signer), deadline));
        if (ECDSA.recover(_hashTypedDataV4(structHash), signature) != signer) revert InvalidSignature();
        emit Granted(patientId, g.grantee, g.categories);
    }
}
