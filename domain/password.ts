/**
 * The password strength rule, shared by register and change-password. Returns the
 * list of rules the password breaks (empty when it is acceptable).
 */
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

/**
 * The same rule as a JSON Schema pattern for the API document (lengths go in
 * minLength/maxLength, which count code points, as passwordProblems does).
 */
export const PASSWORD_PATTERN = '^(?=[\\s\\S]*[a-z])(?=[\\s\\S]*[A-Z])(?=[\\s\\S]*[0-9])';

export function passwordProblems(password: string): string[] {
  const problems: string[] = [];
  // Code points, not UTF-16 units, so the rule and the document's maxLength agree on emoji.
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) problems.push(`must be at least ${PASSWORD_MIN_LENGTH} characters`);
  if (length > PASSWORD_MAX_LENGTH) problems.push(`must be at most ${PASSWORD_MAX_LENGTH} characters`);
  if (!/[a-z]/.test(password)) problems.push('must contain a lowercase letter');
  if (!/[A-Z]/.test(password)) problems.push('must contain an uppercase letter');
  if (!/[0-9]/.test(password)) problems.push('must contain a digit');
  return problems;
}
