// Preloaded into `modelgate serve` (node --import) by the process-guard tests. On SIGUSR2 it makes
// the kind of fault no modelgate handler catches, as a bug would: a rejected promise nobody awaits
// (MODELGATE_TEST_FAULT=rejection) or a throw from a timer callback (=exception).

class InjectedFault extends Error {}

const kind = process.env.MODELGATE_TEST_FAULT;
process.on('SIGUSR2', () => {
  if (kind === 'rejection') void Promise.reject(new InjectedFault('a promise nobody awaited'));
  else if (kind === 'exception') {
    setImmediate(() => {
      throw new InjectedFault('a throw nobody caught');
    });
  }
});
