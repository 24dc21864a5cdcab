// Minimal Hardhat 2 configuration for a local development node (`hardhat node --config ...`).
// medledger uses Hardhat only as a JSON-RPC node: no compilation, no plugins, works offline.
// chainId 31337 and the cancun hardfork match ape-config.yaml (solc 0.8.28 emits MCOPY).
module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: "cancun",
    },
  },
};
