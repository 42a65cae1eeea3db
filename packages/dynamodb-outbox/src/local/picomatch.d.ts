/** The part of picomatch (4.x, which ships no types) that synth.ts uses. */
declare module 'picomatch' {
  const picomatch: (
    patterns: string | readonly string[],
    options?: { readonly dot?: boolean },
  ) => (path: string) => boolean;
  export default picomatch;
}
