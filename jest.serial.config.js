// The suites that fault shared processes under load (`*.serial.test.ts`: Redis stopped, killed and paused;
// answers within one command timeout), run one at a time after the main run so no other suite competes
// for the cores.
const base = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  testMatch: ['**/*.serial.test.ts'],
  // Everything the main run ignores except the serial files themselves (left-out vector tests stay out).
  testPathIgnorePatterns: base.testPathIgnorePatterns.filter((pattern) => pattern !== base.SERIAL_TESTS),
  maxWorkers: 1,
  // Without ../shared (outside CI) every serial suite may be left out; that is not a failure.
  passWithNoTests: true,
};
