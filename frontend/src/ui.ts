/** Shared Tailwind class lists, so every control gets the same focus ring. */

const focusRing =
  'focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:ring-offset-2 focus-visible:ring-offset-white dark:focus-visible:ring-offset-stone-900';

const buttonBase = `inline-flex items-center justify-center gap-1.5 rounded-lg px-3.5 py-2 text-sm font-medium transition-colors disabled:cursor-not-allowed disabled:opacity-50 ${focusRing}`;

export const primaryButton = `${buttonBase} bg-indigo-600 text-white hover:bg-indigo-700`;

export const secondaryButton = `${buttonBase} border border-stone-300 bg-white text-stone-800 hover:bg-stone-100 dark:border-stone-600 dark:bg-stone-800 dark:text-stone-100 dark:hover:bg-stone-700`;

export const textArea = `block min-h-48 w-full resize-y rounded-xl border border-stone-300 bg-white p-4 text-base leading-relaxed text-stone-900 shadow-sm placeholder:text-stone-400 focus:border-indigo-500 dark:border-stone-600 dark:bg-stone-800 dark:text-stone-100 ${focusRing}`;

export const alertBox =
  'rounded-lg border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-900 dark:bg-red-950 dark:text-red-200';
