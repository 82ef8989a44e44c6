/** Static credentials: no SDK client of the benchmark ever looks for real ones. */
export const BENCH_CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'bench' };
