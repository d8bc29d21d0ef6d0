-- known_objects.sql: the manifest of ingested objects, to skip what was read already.
-- Inputs: objects. Output: key, etag of every ingested object version.
SELECT key, etag FROM objects;
