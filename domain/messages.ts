/** Texts of the messages the product sends. Pure, so workflows can build them. */
export interface MessageText {
  subject: string;
  text: string;
}

/** The welcome subject carries no personal data, so the workflow may word the in-app notice with it. */
export const WELCOME_SUBJECT = 'Welcome to Horse Tempo';

export function welcomeMessage(firstName: string): MessageText {
  return {
    subject: WELCOME_SUBJECT,
    text:
      `Hello ${firstName},\n\n` +
      'Your stable is ready. Add your horses, upload a video for an AI gait analysis, ' +
      'track a pregnancy or publish a listing on the marketplace.\n\n— The Horse Tempo team',
  };
}
