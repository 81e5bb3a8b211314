# One image for the API, the worker and the migration job (docker-compose.yml).
FROM node:22-bookworm-slim
WORKDIR /app
# The worker decodes uploads with Debian's maintained ffmpeg (one build for ffmpeg and ffprobe).
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
COPY package.json package-lock.json .npmrc ./
RUN npm install --no-audit --no-fund --loglevel=error
COPY . .
EXPOSE 4000
CMD ["node", "--import", "tsx", "api/server.ts"]
