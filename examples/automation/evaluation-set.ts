/**
 * 50 labelled sentences for the staging evaluation. Ten use negation ("not good"), which the
 * word-counting v1 gets wrong and the candidate v2 is meant to fix: v1 scores 0.8 here, below the
 * default threshold of 0.9, so the gate really separates the two versions.
 */
export type SentimentLabel = "positive" | "negative";

export interface LabelledSentence {
  text: string;
  label: SentimentLabel;
}

export const evaluationSet: readonly LabelledSentence[] = [
  { text: "What a great and wonderful day", label: "positive" },
  { text: "I love this phone", label: "positive" },
  { text: "The service was excellent", label: "positive" },
  { text: "A fantastic film with the best cast", label: "positive" },
  { text: "We had a nice time at the beach", label: "positive" },
  { text: "I am so happy with the result", label: "positive" },
  { text: "Good food and friendly staff", label: "positive" },
  { text: "This is the best coffee in town", label: "positive" },
  { text: "I really like the new design", label: "positive" },
  { text: "The concert was wonderful", label: "positive" },
  { text: "An excellent book, I love it", label: "positive" },
  { text: "Great value for the money", label: "positive" },
  { text: "The hotel room was nice and clean", label: "positive" },
  { text: "Happy customers, great support", label: "positive" },
  { text: "She gave a fantastic talk", label: "positive" },
  { text: "The update made the app good again", label: "positive" },
  { text: "I like how fast it starts", label: "positive" },
  { text: "Wonderful views from the top", label: "positive" },
  { text: "The best purchase I made this year", label: "positive" },
  { text: "Such a great team to work with", label: "positive" },
  { text: "This was a terrible experience", label: "negative" },
  { text: "I hate waiting in line", label: "negative" },
  { text: "The food was awful", label: "negative" },
  { text: "A boring movie with a poor ending", label: "negative" },
  { text: "The worst customer service ever", label: "negative" },
  { text: "I feel sad about the news", label: "negative" },
  { text: "Bad battery life", label: "negative" },
  { text: "The hotel was horrible and dirty", label: "negative" },
  { text: "I dislike the new layout", label: "negative" },
  { text: "Poor quality and bad packaging", label: "negative" },
  { text: "The game is boring after an hour", label: "negative" },
  { text: "An awful, terrible day", label: "negative" },
  { text: "I hate the sound it makes", label: "negative" },
  { text: "The worst pizza in the city", label: "negative" },
  { text: "A sad and boring story", label: "negative" },
  { text: "Horrible traffic this morning", label: "negative" },
  { text: "The screen has poor contrast", label: "negative" },
  { text: "Terrible support, I dislike them", label: "negative" },
  { text: "Bad weather ruined the trip", label: "negative" },
  { text: "The sequel was awful", label: "negative" },
  { text: "The food was not good", label: "negative" },
  { text: "I do not like this at all", label: "negative" },
  { text: "It was never great", label: "negative" },
  { text: "The staff were not nice", label: "negative" },
  { text: "This isn't the best choice", label: "negative" },
  { text: "The room was not bad", label: "positive" },
  { text: "The ending wasn't boring", label: "positive" },
  { text: "I don't hate it", label: "positive" },
  { text: "The price is not terrible", label: "positive" },
  { text: "Never a sad moment", label: "positive" },
];
