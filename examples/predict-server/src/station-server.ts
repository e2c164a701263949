import { createServer, type DfmServer, type ServeOptions } from '@dfm/serve';

/** The last verdict of each camera station. */
export interface StationVerdict {
  station: string;
  predScore: number;
  predLabel: 0 | 1 | null;
  at: string;
}

/**
 * `dfm serve`'s service (@dfm/serve: batching, probes, metrics, token, the web page) with two routes
 * of a line's own: `POST /stations/:id/frames` scores a camera frame through the service's
 * `/v1/predict` (so it is batched with every other request) and remembers the station's verdict;
 * `GET /stations` lists the last verdict per station.
 */
export async function createStationServer(options: ServeOptions): Promise<DfmServer> {
  const app = await createServer(options);
  const last = new Map<string, StationVerdict>();
  app.addContentTypeParser(/^image\//, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.post('/stations/:id/frames', async (request, reply) => {
    const { id } = request.params as { id: string };
    // The service's own route, in process: same batching, limits and error answers.
    const scored = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': request.headers['content-type'] ?? '', authorization: request.headers.authorization ?? '' }, payload: request.body as Buffer });
    const body = scored.json();
    if (scored.statusCode !== 200) return reply.status(scored.statusCode).send(body);
    const verdict: StationVerdict = { station: id, predScore: body.predScore, predLabel: body.predLabel, at: new Date().toISOString() };
    last.set(id, verdict);
    return verdict;
  });
  app.get('/stations', async () => [...last.values()]);
  return app;
}
