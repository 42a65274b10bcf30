-- Portuguese (Brazil) and Romanian join English and Arabic (issue 15): for members'
-- own language and for a workspace's default.
ALTER TABLE user_preferences DROP CONSTRAINT user_preferences_language_check;
ALTER TABLE user_preferences ADD CONSTRAINT user_preferences_language_check
    CHECK (language IN ('en', 'ar', 'pt', 'ro'));
ALTER TABLE tenants DROP CONSTRAINT tenants_locale_check;
ALTER TABLE tenants ADD CONSTRAINT tenants_locale_check
    CHECK (locale IN ('en', 'ar', 'pt', 'ro'));

-- The plan catalogue's names in the two new languages.
UPDATE plans SET names = names || jsonb_build_object(
    'pt', CASE id WHEN 'free' THEN 'Gratuito' WHEN 'starter' THEN 'Inicial'
                  WHEN 'pro' THEN 'Pro' WHEN 'enterprise' THEN 'Empresarial' ELSE name END,
    'ro', CASE id WHEN 'free' THEN 'Gratuit' WHEN 'starter' THEN 'Start'
                  WHEN 'pro' THEN 'Pro' WHEN 'enterprise' THEN 'Enterprise' ELSE name END);
