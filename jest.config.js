/** Jest: TypeScript through @swc/jest; tests that spawn real processes use the dist/ build made by `pretest`. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  testTimeout: 60000,
  maxWorkers: 2,
};
