import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAINER_ARGUMENTS, mergeTrainerArguments } from './trainer-arguments';

describe('mergeTrainerArguments', () => {
  it("uses the user's value over the model's, and reports each conflict", () => {
    const { merged, conflicts } = mergeTrainerArguments({ maxEpochs: 3 }, { maxEpochs: 1, gradientClipVal: 0, numSanityValSteps: 0 });
    expect(merged).toEqual({ maxEpochs: 3, gradientClipVal: 0, numSanityValSteps: 0 });
    expect(conflicts).toEqual([{ name: 'maxEpochs', user: 3, model: 1 }]);
  });

  it("falls back to the model's then the defaults, with no conflict when they agree", () => {
    expect(mergeTrainerArguments({ maxEpochs: 1 }, { maxEpochs: 1, numSanityValSteps: 2 })).toEqual({
      merged: { ...DEFAULT_TRAINER_ARGUMENTS, numSanityValSteps: 2 },
      conflicts: [],
    });
  });
});
