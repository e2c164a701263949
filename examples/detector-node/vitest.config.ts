import { packageProject } from '../../vitest.shared';

export default packageProject('@example/detector-node');
